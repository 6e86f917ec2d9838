//! Many endpoints in one process against a lab pool in another: what a QA team's load generator does.
//!
//! `serve-lab` is the pool's process: N users (`userNNNNN@contoso.lab`, the lab's default password), NTLM only
//! (so that no per-user RSA key generation weighs on either side), one JSON line with the addresses, then
//! serving until its standard input closes. `fleet` starts it, then in this process:
//! 1. signs every endpoint in through an unpaced [`sfbkit::fleet::Fleet`], K at a time, and lets each watch
//!    10 other users' presence and publish its own;
//! 2. reads this process's resident memory per endpoint (the client alone: the pool is elsewhere);
//! 3. signs every endpoint out and in again ("warm": the process, its connections' trust and the DNS answers
//!    are warm; the credentials are NTLM, as in step 1), timing it and the process's CPU time.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sfbkit::Client;
use sfbkit::fleet::{Fleet, FleetOptions, FleetStats};
use sfbkit_lab::{Fault, LabConfig, LabPool, LabUser};

use crate::process::{cpu_time, rss_kib};

fn user(i: usize) -> String {
    format!("user{i:05}@contoso.lab")
}

/// The pool's side, in its own process.
pub fn serve_lab(endpoints: usize) -> Result<(), String> {
    raise_open_files();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let mut config = LabConfig::default().with_fault(Fault::NtlmOnly);
        config.users =
            (0..endpoints).map(|i| LabUser::new(&format!("sip:{}", user(i)), &format!("User {i}"))).collect();
        let pool = LabPool::start(config).await.map_err(|e| e.to_string())?;
        let (https, http) = pool.web_ports();
        let info = serde_json::json!({
            "dns": pool.dns_addr().to_string(),
            "https": https,
            "http": http,
            "sip_port": pool.sip_addr().port(),
            "ca_pem": pool.ca_pem(),
        });
        println!("{info}");
        let _ = std::io::stdout().flush();
        // Serve until the parent closes our standard input (or goes away).
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
        })
        .await;
        drop(pool);
        Ok(())
    })
}

struct Lab {
    dns: std::net::SocketAddr,
    https: u16,
    http: u16,
    sip_port: u16,
    ca_pem: String,
}

impl Lab {
    fn builder(&self, i: usize) -> sfbkit::ClientBuilder {
        sfbkit::ClientBuilder::new(&user(i))
            .credentials(&user(i), sfbkit_lab::config::DEFAULT_PASSWORD)
            .keystore(Arc::new(sfbkit::keystore::MemoryStore::default()))
            .dns_servers(vec![self.dns])
            .autodiscover_ports(self.https, self.http)
            .a_record_port(self.sip_port)
            .trust(sfbkit::transport::TrustConfig::empty().with_extra_ca_pem(self.ca_pem.as_bytes().to_vec()))
    }
}

/// As many open files as the hard limit allows (each endpoint holds a TLS connection).
fn raise_open_files() {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

pub fn run(endpoints: usize, in_flight: usize) -> Result<(), String> {
    raise_open_files();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["serve-lab", "--endpoints", &endpoints.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the lab pool's process: {e}"))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no stdout from the lab process")?;
    std::io::BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    let info: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| format!("the lab process said {line:?}: {e}"))?;
    let lab = Lab {
        dns: info["dns"].as_str().and_then(|d| d.parse().ok()).ok_or("no dns")?,
        https: info["https"].as_u64().unwrap_or(0) as u16,
        http: info["http"].as_u64().unwrap_or(0) as u16,
        sip_port: info["sip_port"].as_u64().unwrap_or(0) as u16,
        ca_pem: info["ca_pem"].as_str().unwrap_or_default().to_string(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let result = runtime.block_on(async move {
        // Unpaced: the point is how fast the client can go; K sign-ins in flight.
        let fleet = Fleet::new(FleetOptions { sign_ins_per_second: None, max_in_flight: in_flight, ..Default::default() });
        let before = rss_kib();
        for i in 0..endpoints {
            fleet.add(lab.builder(i)).map_err(|e| format!("{}: {e}", user(i)))?;
        }
        let started = Instant::now();
        let cold = fleet.sign_in_all().await;
        let cold_took = started.elapsed();
        println!(
            "cold sign-in: {cold} of {endpoints} in {:.1} s ({:.0}/s, {in_flight} in flight)",
            cold_took.as_secs_f64(),
            cold as f64 / cold_took.as_secs_f64()
        );
        if cold < endpoints {
            eprintln!("not signed in: {} ({})", endpoints - cold, counters(&fleet.stats()));
        }
        // Each watches 10 others and publishes once.
        let watching = Instant::now();
        let signed: Vec<(usize, Arc<Client>)> =
            fleet.endpoints_now().into_iter().enumerate().filter(|(_, c)| c.is_signed_in()).collect();
        for chunk in signed.chunks(in_flight.max(1)) {
            let mut tasks = tokio::task::JoinSet::new();
            for (i, c) in chunk.iter().cloned() {
                tasks.spawn(async move {
                    for k in 1..=10.min(endpoints.saturating_sub(1)) {
                        let _ = c.watch_presence(&format!("sip:{}", user((i + k) % endpoints))).await;
                    }
                    let _ = c.set_presence(sfbkit::presence::Availability::Busy, None).await;
                });
            }
            while tasks.join_next().await.is_some() {}
        }
        println!("10 presence subscriptions and a publication each: {:.1} s", watching.elapsed().as_secs_f64());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rss_kib();
        let per_endpoint = after.saturating_sub(before) as f64 / cold.max(1) as f64;
        println!("client RSS: {} MiB before, {} MiB with {cold} endpoints: {per_endpoint:.1} KiB each", before / 1024, after / 1024);
        drop(signed);
        // Warm: out and in again.
        fleet.sign_out_all().await;
        let cpu0 = cpu_time();
        let warm_started = Instant::now();
        let warm = fleet.sign_in_all().await;
        let warm_took = warm_started.elapsed();
        let cpu = cpu_time().saturating_sub(cpu0);
        let rate = warm as f64 / warm_took.as_secs_f64();
        let cpu_pct = cpu.as_secs_f64() / warm_took.as_secs_f64() * 100.0;
        println!("warm sign-in: {warm} of {endpoints} in {:.1} s, client CPU {:.1} s", warm_took.as_secs_f64(), cpu.as_secs_f64());
        fleet.sign_out_all().await;
        println!("counters: {}", counters(&fleet.stats()));
        println!(
            "fleet: endpoints={endpoints} signed_in={warm} client_kib_per_endpoint={per_endpoint:.1} warm_signins_per_s={rate:.1} cpu_pct={cpu_pct:.0}"
        );
        Ok(())
    });
    drop(child.stdin.take());
    let _ = child.wait();
    result
}

/// The stress tool's counters in one line: logons, failures, disconnects, and the response codes of the
/// operations (`REGISTER 200=4000 401=4000 ...`).
fn counters(stats: &FleetStats) -> String {
    let mut line = format!(
        "logon_attempts={} logon_failures={} disconnects={} reconnects={}",
        stats.logon_attempts, stats.logon_failures, stats.disconnects, stats.reconnects
    );
    for (operation, codes) in &stats.responses {
        line.push_str(&format!("; {operation}"));
        for (code, n) in codes {
            line.push_str(&format!(" {code}={n}"));
        }
    }
    line
}
