//! A real Kerberos realm for the lab pool: MIT's `krb5kdc` (Debian's krb5-kdc) run in a temporary directory
//! with its own configuration, database, principals for the lab users, `sip/<pool>` and `HTTP/<pool>`
//! service principals and a keytab the lab accepts contexts with ([`gssapi`]). Nothing in `/etc` is used or
//! changed: every MIT tool gets `KRB5_CONFIG` and `KRB5_KDC_PROFILE` on its own command line.
//!
//! The service principals allow AES and RC4-HMAC session keys (`session_enctypes`, with `allow_rc4`, which
//! Debian's krb5 1.20.1-2+deb12u4 and later need for RC4), so a client asking for RC4 gets an RFC 4757
//! context, as Lync-era pools' MIC tokens show, and one asking for AES an RFC 4121 one.
//!
//! A user is "signed in to the domain" the way a logon does it: MIT's `kinit` writes a private credential
//! cache ([`LabKdc::kinit`]), which the client reads.

pub mod gssapi;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the KDC could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum KdcError {
    #[error("{0} is not installed: install Debian's krb5-kdc, krb5-admin-server and krb5-user")]
    NotInstalled(&'static str),
    #[error("{tool} failed: {output}")]
    Tool { tool: String, output: String },
    #[error("the KDC did not start: {0}")]
    Start(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("MIT GSSAPI: {0}")]
    Gssapi(String),
}

/// What the realm holds.
#[derive(Debug, Clone)]
pub struct RealmSpec {
    /// `CONTOSO.LAB`.
    pub realm: String,
    /// The registrar's and web services' host: `sip/<fqdn>` and `HTTP/<fqdn>` are created.
    pub service_hosts: Vec<String>,
    /// (user name, password) of each lab user.
    pub users: Vec<(String, String)>,
    /// Leave out the `sip/` principals (a pool whose SPN was never registered).
    pub without_sip_spn: bool,
    /// Run the KDC this many seconds off the real clock (`faketime`; Debian's faketime package).
    pub clock_offset: Option<i64>,
}

/// A running KDC; stopped and its directory removed when dropped.
pub struct LabKdc {
    dir: PathBuf,
    child: Child,
    addr: SocketAddr,
    realm: String,
    keytab: PathBuf,
}

impl std::fmt::Debug for LabKdc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabKdc").field("realm", &self.realm).field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// A program from the packages, on PATH or in the directories Debian installs it in.
fn tool(name: &'static str) -> Result<PathBuf, KdcError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(KdcError::NotInstalled(name))
}

/// Whether the KDC tools and MIT's GSSAPI are here (tests that need them say why they cannot run).
pub fn available() -> Result<(), String> {
    for t in ["krb5kdc", "kdb5_util", "kadmin.local", "kinit"] {
        tool(t).map_err(|e| e.to_string())?;
    }
    gssapi::available()
}

/// A port free for both TCP and UDP now; the KDC binds it a moment later. It is taken below the kernel's
/// ephemeral range, so the `bind(0)` sockets of the lab pool and of tests running alongside (DNS on UDP,
/// listeners on TCP) are never handed it in between; [`LabKdc::start`] still retries a port lost anyway.
fn free_port() -> Result<u16, KdcError> {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|low| *low > 12_000);
    for _ in 0..50 {
        let (tcp, port) = match ephemeral_low {
            Some(low) => {
                let port = 10_000 + rand::random::<u16>() % (low - 10_000);
                match std::net::TcpListener::bind(("127.0.0.1", port)) {
                    Ok(tcp) => (tcp, port),
                    Err(_) => continue,
                }
            }
            None => {
                let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
                let port = tcp.local_addr()?.port();
                (tcp, port)
            }
        };
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            drop(tcp);
            return Ok(port);
        }
    }
    Err(KdcError::Start("no port free for both TCP and UDP".into()))
}

/// Writes the realm's `krb5.conf` and `kdc.conf` for a KDC on `port`.
fn write_configs(dir: &Path, realm: &str, port: u16) -> Result<(), KdcError> {
    let d = dir.display();
    let krb5_conf = format!(
        "[libdefaults]\n    default_realm = {realm}\n    dns_lookup_kdc = false\n    dns_lookup_realm = false\n    dns_canonicalize_hostname = false\n    rdns = false\n    allow_rc4 = true\n[realms]\n    {realm} = {{\n        kdc = 127.0.0.1:{port}\n    }}\n"
    );
    let kdc_conf = format!(
        "[kdcdefaults]\n    kdc_ports = 127.0.0.1:{port}\n    kdc_tcp_ports = 127.0.0.1:{port}\n[realms]\n    {realm} = {{\n        database_name = {d}/principal\n        key_stash_file = {d}/stash\n        acl_file = {d}/kadm5.acl\n        max_life = 10h 0m 0s\n        max_renewable_life = 7d 0h 0m 0s\n        master_key_type = aes256-cts-hmac-sha1-96\n        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal arcfour-hmac:normal\n        default_principal_flags = +preauth\n    }}\n[libdefaults]\n    allow_rc4 = true\n[logging]\n    kdc = FILE:{d}/kdc.log\n    default = FILE:{d}/krb5lib.log\n"
    );
    std::fs::write(dir.join("krb5.conf"), krb5_conf)?;
    std::fs::write(dir.join("kdc.conf"), kdc_conf)?;
    Ok(())
}

/// How many times [`LabKdc::start`] starts `krb5kdc` on a fresh port when it exits while starting (another
/// process took the port between the check and the KDC's bind).
const START_ATTEMPTS: usize = 4;

impl LabKdc {
    /// Creates the realm and starts `krb5kdc` (about 0.1 s).
    pub fn start(spec: &RealmSpec) -> Result<LabKdc, KdcError> {
        for t in ["krb5kdc", "kdb5_util", "kadmin.local"] {
            tool(t)?;
        }
        let dir = std::env::temp_dir().join(format!("sfbkit-kdc-{}-{}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir)?;
        let realm = spec.realm.clone();
        // The database tools read the configuration but never the port; the KDC's port is chosen below.
        write_configs(&dir, &realm, free_port()?)?;
        std::fs::write(dir.join("kadm5.acl"), "")?;
        let master: String = (0..24).map(|_| char::from(b'a' + rand::random::<u8>() % 26)).collect();
        let env = |c: &mut Command| {
            c.env("KRB5_CONFIG", dir.join("krb5.conf")).env("KRB5_KDC_PROFILE", dir.join("kdc.conf"));
        };
        run(tool("kdb5_util")?, &["create", "-s", "-r", &realm, "-P", &master], env)?;
        let mut queries: Vec<String> = Vec::new();
        for (user, password) in &spec.users {
            queries.push(format!("addprinc -pw {password} {user}@{realm}"));
        }
        let mut services = Vec::new();
        for host in &spec.service_hosts {
            if !spec.without_sip_spn {
                services.push(format!("sip/{host}@{realm}"));
            }
            services.push(format!("HTTP/{host}@{realm}"));
        }
        for s in &services {
            queries.push(format!("addprinc -randkey {s}"));
            queries.push(format!(
                "setstr {s} session_enctypes aes256-cts-hmac-sha1-96,aes128-cts-hmac-sha1-96,arcfour-hmac"
            ));
        }
        let keytab = dir.join("lab.keytab");
        if !services.is_empty() {
            queries.push(format!("ktadd -k {} -norandkey {}", keytab.display(), services.join(" ")));
        }
        for q in &queries {
            run(tool("kadmin.local")?, &["-r", &realm, "-q", q], env)?;
        }
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            write_configs(&dir, &realm, port)?;
            let mut cmd = match spec.clock_offset {
                Some(offset) => {
                    let faketime = tool("faketime").map_err(|_| KdcError::NotInstalled("faketime"))?;
                    let mut c = Command::new(faketime);
                    // libfaketime's relative form: seconds off the real clock, which keeps running.
                    c.args(["-f", &format!("{offset:+}")]).arg(tool("krb5kdc")?);
                    c
                }
                None => Command::new(tool("krb5kdc")?),
            };
            cmd.args(["-n", "-r", &realm, "-P"]).arg(dir.join("kdc.pid"));
            env(&mut cmd);
            let stderr = std::fs::File::create(dir.join("kdc.stderr"))?;
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
            let _ = std::fs::remove_file(dir.join("kdc.log"));
            let mut child = cmd.spawn()?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let started = Instant::now();
            loop {
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Ok(LabKdc { dir, child, addr, realm, keytab });
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(dir.join("kdc.log")).unwrap_or_default();
                    let err = std::fs::read_to_string(dir.join("kdc.stderr")).unwrap_or_default();
                    last = format!("krb5kdc exited ({status}) on port {port}: {}{}", log.trim(), err.trim());
                    break;
                }
                if started.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(KdcError::Start("krb5kdc did not listen within 10 s".into()));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(KdcError::Start(last))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    pub fn keytab(&self) -> &Path {
        &self.keytab
    }

    /// The realm's `krb5.conf` (for MIT tools pointed at the lab: `KRB5_CONFIG=... kinit`).
    pub fn krb5_conf(&self) -> PathBuf {
        self.dir.join("krb5.conf")
    }

    /// Signs `user` in to the realm with MIT's `kinit`, as a domain logon does, into a credential cache of
    /// its own (returned). `lifetime` is kinit's `-l` (`10h`, `5s`).
    pub fn kinit(&self, user: &str, password: &str, lifetime: Option<&str>) -> Result<PathBuf, KdcError> {
        let cache = self.dir.join(format!("krb5cc_{user}"));
        let mut cmd = Command::new(tool("kinit")?);
        cmd.env("KRB5_CONFIG", self.krb5_conf()).env("KRB5CCNAME", format!("FILE:{}", cache.display()));
        if let Some(l) = lifetime {
            cmd.args(["-l", l]);
        }
        cmd.arg(format!("{user}@{}", self.realm));
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            // kinit reads the password from a pipe (its prompt goes to stdout).
            writeln!(stdin, "{password}")?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(KdcError::Tool {
                tool: "kinit".into(),
                output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(cache)
    }
}

fn run(program: PathBuf, args: &[&str], env: impl Fn(&mut Command)) -> Result<(), KdcError> {
    let mut cmd = Command::new(&program);
    cmd.args(args).stdin(Stdio::null());
    env(&mut cmd);
    let out = cmd.output()?;
    if !out.status.success() {
        let name = program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        return Err(KdcError::Tool { tool: name, output: text.trim().to_string() });
    }
    Ok(())
}

impl Drop for LabKdc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The lab's realm: the KDC, the acceptor credential, and the users' domain-logon caches.
pub struct LabRealm {
    kdc: LabKdc,
    acceptor: std::sync::Arc<gssapi::Acceptor>,
    passwords: std::collections::HashMap<String, String>,
    caches: std::sync::Mutex<std::collections::HashMap<String, PathBuf>>,
    /// `kerberos-expired-ticket`: logon tickets last 30 s.
    short_tickets: bool,
    /// The port `_kerberos._tcp` names (a dead one under `kdc-down`).
    advertised_port: u16,
}

impl std::fmt::Debug for LabRealm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabRealm").field("kdc", &self.kdc).finish_non_exhaustive()
    }
}

impl LabRealm {
    /// The realm of `config`: its users, `sip/` and `HTTP/` principals for every pool, faults applied.
    pub fn start(config: &crate::config::LabConfig) -> Result<LabRealm, KdcError> {
        use crate::config::Fault;
        let users: Vec<(String, String)> =
            config.users.iter().map(|u| (u.local_part().to_string(), u.password.clone())).collect();
        let mut hosts = vec![config.pool_fqdn.clone()];
        hosts.extend(config.other_pools.iter().cloned());
        let spec = RealmSpec {
            realm: config.realm(),
            service_hosts: hosts,
            users: users.clone(),
            without_sip_spn: config.has(Fault::KerberosNoSpn),
            clock_offset: config.has(Fault::KdcClockSkew).then_some(-600),
        };
        let kdc = LabKdc::start(&spec)?;
        let acceptor = gssapi::Acceptor::new(kdc.keytab()).map_err(KdcError::Gssapi)?;
        let advertised_port = if config.has(Fault::KdcDown) {
            let free = std::net::TcpListener::bind("127.0.0.1:0")?;
            free.local_addr()?.port()
        } else {
            kdc.addr().port()
        };
        Ok(LabRealm {
            kdc,
            acceptor,
            passwords: users.into_iter().collect(),
            caches: Default::default(),
            short_tickets: config.has(Fault::KerberosExpiredTicket),
            advertised_port,
        })
    }

    pub fn kdc(&self) -> &LabKdc {
        &self.kdc
    }

    pub fn acceptor(&self) -> std::sync::Arc<gssapi::Acceptor> {
        self.acceptor.clone()
    }

    /// The port the zone's `_kerberos._tcp` record names.
    pub fn advertised_port(&self) -> u16 {
        self.advertised_port
    }

    /// The credential cache of `user` (the SIP address's local part) after a domain logon: `kinit` the first
    /// time, the same cache after.
    pub fn logon(&self, user: &str) -> Result<PathBuf, KdcError> {
        let mut caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = caches.get(user) {
            return Ok(c.clone());
        }
        let password = self.passwords.get(user).ok_or_else(|| KdcError::Tool {
            tool: "kinit".into(),
            output: format!("{user} is not a user of the lab realm"),
        })?;
        let cache = self.kdc.kinit(user, password, self.short_tickets.then_some("30s"))?;
        caches.insert(user.to_string(), cache.clone());
        Ok(cache)
    }
}
