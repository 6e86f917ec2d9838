//! Where a command signs in: the embedded lab pool (`--lab` and its options) or a real pool (DNS, CA files,
//! registrar, autodiscover ports), and how certificates are kept. Shared by `signin` and `presence-check`.

use sfbkit::transport::TrustConfig;
use sfbkit::{Client, ClientBuilder, ServerTarget};
use sfbkit_lab::{Fault, LabConfig, LabPool, Scenario};
use zeroize::Zeroizing;

#[derive(clap::Args)]
pub struct TargetArgs {
    /// Start an embedded lab pool on loopback and sign in to it (discovery included).
    #[arg(long)]
    lab: bool,
    /// The lab pool's configuration (TOML; see tests/lab/lab.example.toml).
    #[arg(long, requires = "lab")]
    lab_config: Option<std::path::PathBuf>,
    /// Switch on a lab fault (repeatable), e.g. no-lyncdiscover, wrong-cert-name, ntlm-only,
    /// tls10-only, drop-connection, restart; every name is listed in tests/lab/lab.example.toml.
    #[arg(long = "lab-fault", requires = "lab")]
    lab_faults: Vec<Fault>,
    /// Reproduce a field story (a named set of lab faults; repeatable): seed-002 (web tickets refused with
    /// 28032, registrar TLS-DSK only). Listed in tests/lab/lab.example.toml.
    #[arg(long = "lab-scenario", requires = "lab")]
    lab_scenarios: Vec<Scenario>,
    /// Delay every lab DNS, HTTP and SIP response by this many milliseconds.
    #[arg(long, requires = "lab")]
    lab_delay_ms: Option<u64>,
    /// Give the lab pool a Kerberos realm: a real MIT KDC (Debian's krb5-kdc), Kerberos on its registrar and
    /// Negotiate on its web services; the user is signed in to the realm as a domain logon would.
    #[arg(long = "lab-kerberos", requires = "lab")]
    lab_kerberos: bool,
    /// Where the embedded lab pool keeps its CA between runs, so that a certificate it issued is
    /// still good on the next run (default: the user's cache directory, sfbkit/lab).
    #[arg(long, requires = "lab")]
    lab_state: Option<std::path::PathBuf>,
    /// Where TLS-DSK certificates are kept: the OS keystore (default) or this process's memory.
    #[arg(long, value_enum, default_value = "os")]
    keystore: KeystoreChoice,
    /// Registrar FQDN[:port] (default port 5061); without it, server discovery finds the registrar.
    #[arg(long)]
    server: Option<String>,
    /// DNS server(s) to ask instead of the system's (IP:PORT, repeatable).
    #[arg(long)]
    dns: Vec<std::net::SocketAddr>,
    /// Autodiscover's ports, HTTPS,HTTP (default 443,80): for pools published on other ports, such as a lab pool.
    #[arg(long, value_name = "HTTPS,HTTP", value_parser = parse_ports)]
    autodiscover_ports: Option<(u16, u16)>,
    /// Connect to this address instead of resolving the registrar's name (the certificate must still name it).
    #[arg(long)]
    addr: Option<std::net::SocketAddr>,
    /// A domain whose servers may receive the credentials besides the SIP domain (repeatable; Lync's
    /// TrustModelData). Without it the Microsoft client's defaults apply (lync.com, outlook.com,
    /// lync.glbdns.microsoft.com, microsoftonline.com); giving any replaces them. See README "Where your
    /// credentials go".
    #[arg(long = "trusted-domain", value_name = "DOMAIN")]
    trusted_domains: Vec<String>,
    /// Extra CA certificate(s) to trust, PEM (system roots are trusted too).
    #[arg(long)]
    ca_file: Vec<std::path::PathBuf>,
    /// Write every SIP message and HTTP exchange of the run, with timestamps and secrets redacted, to FILE in the
    /// layout of the Microsoft client's .UccApilog files (Snooper reads them; docs/uccapilog-format.md).
    #[arg(long, value_name = "FILE")]
    trace: Option<std::path::PathBuf>,
    /// Sign in the way a client inside the corporate network does: lyncdiscoverinternal, _sipinternaltls._tcp,
    /// sipinternal, and autodiscover's internal access point only.
    #[arg(long, conflicts_with = "external")]
    internal: bool,
    /// Sign in the way a remote user's client does: lyncdiscover, _sip._tls, sip/sipexternal, and the external
    /// access point (the Edge) only; tests the Internet path from anywhere.
    #[arg(long)]
    external: bool,
    /// The SIP authentication scheme: auto (as the Microsoft client chooses: TLS-DSK with a certificate, then
    /// Kerberos, then NTLM), ntlm, tls-dsk or kerberos.
    #[arg(long, value_name = "SCHEME", default_value = "auto")]
    auth: sfbkit::auth::AuthMethod,
    /// The lowest TLS version allowed inside the TLS-DSK tunnel (1.0, 1.1, 1.2): 1.2 is a client with TLS 1.0
    /// disabled.
    #[arg(long = "tls-dsk-min", value_name = "VERSION", default_value = "1.0")]
    tls_dsk_min: sfbkit::auth::tlsdsk::TlsVersion,
    /// The highest TLS version offered inside the TLS-DSK tunnel. TLS 1.0 is offered first; a pool that refuses
    /// it gets an offer up to this version.
    #[arg(long = "tls-dsk-max", value_name = "VERSION", default_value = "1.2")]
    tls_dsk_max: sfbkit::auth::tlsdsk::TlsVersion,
    /// Kerberos: the FILE credential cache to read (default: KRB5CCNAME, else /tmp/krb5cc_<uid>).
    #[arg(long, value_name = "FILE")]
    ccache: Option<std::path::PathBuf>,
    /// Kerberos: a KDC to ask (IP:PORT, repeatable; default: DNS SRV _kerberos._tcp.<realm>).
    #[arg(long = "kdc", value_name = "IP:PORT")]
    kdcs: Vec<std::net::SocketAddr>,
    /// Kerberos: the session-key encryption types to ask for, preferred first (aes256, aes128, rc4).
    #[arg(long = "kerberos-etype", value_name = "ETYPE")]
    kerberos_etypes: Vec<sfbkit::auth::kerberos::Etype>,
    /// Give up on a sign-in that has not finished after this many seconds (class `deadline`).
    #[arg(long, value_name = "SECONDS", default_value_t = 90)]
    deadline: u64,
    /// Sign in straight to the registrar of the last successful sign-in (kept in the keystore for an hour)
    /// instead of running Server Discovery, as applications do. Off by default: a sign-in test checks
    /// discovery too.
    #[arg(long)]
    sign_in_cache: bool,
}

/// `--keystore`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum KeystoreChoice {
    /// The OS keystore (Linux: the Secret Service when a desktop session offers one, else kernel
    /// keyutils), kept between runs.
    Os,
    /// This process's memory: every run provisions afresh.
    Memory,
}

fn keystore(choice: KeystoreChoice) -> std::sync::Arc<dyn sfbkit::keystore::SecretStore> {
    use sfbkit::keystore::{MemoryStore, OsKeystore};
    match choice {
        KeystoreChoice::Os => match OsKeystore::new() {
            Ok(k) => std::sync::Arc::new(k),
            Err(e) => {
                eprintln!("sfbkit: {e}; keeping certificates in memory");
                std::sync::Arc::new(MemoryStore::default())
            }
        },
        KeystoreChoice::Memory => std::sync::Arc::new(MemoryStore::default()),
    }
}

/// An account and its password (wiped when dropped).
pub type Credentials = (String, Zeroizing<String>);

/// The target, ready: the lab pool running when asked for (it lives as long as this).
pub struct Opened<'a> {
    args: &'a TargetArgs,
    pub lab: Option<LabPool>,
    keystore: std::sync::Arc<dyn sfbkit::keystore::SecretStore>,
    /// `--trace`'s file, shared by every client of the run.
    pub trace: Option<std::sync::Arc<crate::trace_file::UccApiLog>>,
}

impl TargetArgs {
    /// Starts the lab pool when `--lab` asks for it.
    pub async fn open(&self) -> Result<Opened<'_>, String> {
        let keystore = keystore(self.keystore);
        let trace = match &self.trace {
            Some(path) => Some(std::sync::Arc::new(crate::trace_file::UccApiLog::create(path)?)),
            None => None,
        };
        if !self.lab {
            return Ok(Opened { args: self, lab: None, keystore, trace });
        }
        let config = lab_config(
            self.lab_config.as_deref(),
            &self.lab_faults,
            &self.lab_scenarios,
            self.lab_delay_ms,
            self.lab_kerberos,
        )?;
        let state = match &self.lab_state {
            Some(dir) => dir.clone(),
            None => sfbkit_lab::state::default_dir().map_err(|e| format!("{e}; pass --lab-state DIR"))?,
        };
        let pool = LabPool::start_with_state(config, Some(&state)).await.map_err(|e| e.to_string())?;
        Ok(Opened { args: self, lab: Some(pool), keystore, trace })
    }
}

impl Opened<'_> {
    /// The lab's users, in its configuration's order (none without a lab).
    pub fn lab_users(&self) -> Vec<String> {
        self.lab.as_ref().map(|p| p.config().users.iter().map(|u| u.sip_uri.clone()).collect()).unwrap_or_default()
    }

    /// A client for `user`. With the lab, its own DNS, autodiscover ports and CA, and the lab user's password
    /// unless `credentials` replace it; with a real pool, the target options.
    pub fn client(&self, user: &str, credentials: Option<Credentials>) -> Result<Client, String> {
        self.client_observed(user, credentials, None)
    }

    /// [`Opened::client`], its messages also handed to `observer` (besides `--trace`).
    pub fn client_observed(
        &self,
        user: &str,
        credentials: Option<Credentials>,
        observer: Option<std::sync::Arc<dyn sfbkit::trace::WireObserver>>,
    ) -> Result<Client, String> {
        let args = self.args;
        let deadline = std::time::Duration::from_secs(args.deadline);
        let mut builder = match &self.lab {
            // The pool's DNS, autodiscover ports and CA: discovery finds the registrar as on a real network.
            Some(pool) => pool.client_builder(user),
            None => {
                let mut trust = TrustConfig::system();
                for path in &args.ca_file {
                    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    trust = trust.with_extra_ca_pem(pem);
                }
                let mut builder = ClientBuilder::new(user).trust(trust).dns_servers(args.dns.clone());
                if let Some((https, http)) = args.autodiscover_ports {
                    builder = builder.autodiscover_ports(https, http);
                }
                if let Some(server) = &args.server {
                    let (fqdn, port) = parse_server(server)?;
                    builder = builder.server(ServerTarget { fqdn, port, addr: args.addr });
                }
                builder
            }
        };
        builder = builder.keystore(self.keystore.clone()).sign_in_deadline(deadline);
        if !args.sign_in_cache {
            builder = builder.sign_in_cache_ttl(std::time::Duration::ZERO);
        }
        builder = builder
            .auth_method(args.auth)
            .tls_dsk_versions(sfbkit::auth::tlsdsk::TlsDskVersions { min: args.tls_dsk_min, max: args.tls_dsk_max });
        if args.ccache.is_some() || !args.kdcs.is_empty() || !args.kerberos_etypes.is_empty() {
            let mut kerberos = builder.kerberos_config().clone();
            if let Some(cache) = &args.ccache {
                kerberos.ccache = Some(cache.clone());
            }
            if !args.kdcs.is_empty() {
                kerberos.kdcs = args.kdcs.clone();
            }
            if !args.kerberos_etypes.is_empty() {
                kerberos.etypes = args.kerberos_etypes.clone();
            }
            builder = builder.kerberos(kerberos);
        }
        builder = builder.network_location(match (args.internal, args.external) {
            (true, _) => sfbkit::discovery::NetworkLocation::Internal,
            (_, true) => sfbkit::discovery::NetworkLocation::External,
            _ => sfbkit::discovery::NetworkLocation::Auto,
        });
        let trace = self.trace.clone().map(|t| t as std::sync::Arc<dyn sfbkit::trace::WireObserver>);
        match (trace, observer) {
            (Some(a), Some(b)) => builder = builder.wire_observer(std::sync::Arc::new(crate::html::Both(vec![a, b]))),
            (Some(one), None) | (None, Some(one)) => builder = builder.wire_observer(one),
            (None, None) => {}
        }
        if !args.trusted_domains.is_empty() {
            builder = builder.trusted_domains(args.trusted_domains.clone());
        }
        // A password given explicitly replaces the lab user's own (a QA run checking a wrong password).
        if let Some((account, password)) = credentials {
            builder = builder.credentials(&account, &password);
        }
        builder.build().map_err(|e| e.to_string())
    }
}

/// A lab pool's configuration: the file (or the default pool), then the faults, scenarios and delay asked for.
pub fn lab_config(
    file: Option<&std::path::Path>,
    faults: &[Fault],
    scenarios: &[Scenario],
    delay_ms: Option<u64>,
    kerberos: bool,
) -> Result<LabConfig, String> {
    let mut config = match file {
        Some(path) => LabConfig::from_file(path).map_err(|e| e.to_string())?,
        None => LabConfig::default(),
    };
    config = faults.iter().fold(config, |c, f| c.with_fault(*f));
    config = scenarios.iter().fold(config, |c, s| c.with_scenario(*s));
    if let Some(ms) = delay_ms {
        config.response_delay_ms = ms;
    }
    config.auth.kerberos |= kerberos;
    Ok(config)
}

/// The password in `VAR`, wiped when dropped.
pub fn password_from_env(var: &str) -> Result<Zeroizing<String>, String> {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => Ok(Zeroizing::new(p)),
        Ok(_) => Err(format!("the environment variable {var} is empty: put the account's password in it")),
        Err(_) => Err(format!("the password is read from the environment variable {var}, which is not set")),
    }
}

/// The first line of standard input, as a password.
pub fn password_from_stdin() -> Result<Zeroizing<String>, String> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().read_line(&mut line).map_err(|e| format!("--password-stdin: cannot read standard input: {e}"))?;
    let password = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
    if password.is_empty() {
        return Err("--password-stdin: standard input held no password (an empty first line)".into());
    }
    Ok(password)
}

/// The account for `user` when none is given: the sign-in address (a UPN).
pub fn default_account(user: &str) -> String {
    user.strip_prefix("sip:").unwrap_or(user).to_string()
}

/// `--autodiscover-ports HTTPS,HTTP`.
fn parse_ports(text: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| p.trim().parse::<u16>().ok().filter(|p| *p != 0);
    match text.split_once(',') {
        Some((https, http)) => port(https).zip(port(http)),
        None => None,
    }
    .ok_or_else(|| format!("{text:?}: give two ports, HTTPS then HTTP, such as 443,80"))
}

/// `--server FQDN[:PORT]` (port 5061 by default); the host itself is checked by `ClientBuilder::build`.
fn parse_server(server: &str) -> Result<(String, u16), String> {
    let (host, port) = match server.rsplit_once(':') {
        Some((h, p)) => {
            let port = p.parse::<u16>().ok().filter(|p| *p != 0);
            (h, port.ok_or_else(|| format!("--server {server:?}: the port must be a number from 1 to 65535"))?)
        }
        None => (server, 5061),
    };
    if host.trim().is_empty() {
        return Err(format!(
            "--server {server:?} names no host: give the registrar's FQDN, e.g. pool01.contoso.com:5061"
        ));
    }
    Ok((host.to_string(), port))
}
