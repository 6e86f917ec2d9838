//! The lab pool's DNS zone, generated from its configuration: the names a Skype for Business
//! deployment publishes (REFERENCE.md §0, seed 001 step 1), minus what faults and `dns.omit` take
//! away, plus `dns.records`.

use std::net::Ipv4Addr;

use crate::config::{Fault, LabConfig, RecordSpec};
use crate::dns::{LabRecord, LabZone};

/// Builds the zone; `sip_port` is the registrar's port (SRV records and `port = 0` point there).
pub fn zone_for(config: &LabConfig, sip_port: u16) -> LabZone {
    let d = &config.domain;
    let loopback = Ipv4Addr::LOCALHOST;
    let no_lyncdiscover = config.has(Fault::NoLyncdiscover) || config.has(Fault::NoLyncdiscoverNoSrv);
    let no_srv = config.has(Fault::NoLyncdiscoverNoSrv);
    let mut records = Vec::new();
    let mut a = |name: String| records.push(LabRecord::A { name, ip: loopback });
    a(config.pool_fqdn.clone());
    if config.has(Fault::MexHttpPort) {
        // Where the fault's MEX sends the Windows port: an in-domain name (the foreign host's listener).
        a(format!("webticket.{d}"));
    }
    for other in &config.other_pools {
        a(other.clone());
    }
    for prefix in ["sip", "sipinternal", "sipexternal"] {
        a(format!("{prefix}.{d}"));
    }
    if !no_lyncdiscover {
        a(format!("lyncdiscover.{d}"));
        a(format!("lyncdiscoverinternal.{d}"));
    }
    if !no_srv {
        let srv = |prefix: &str, target: String| LabRecord::Srv {
            name: format!("{prefix}.{d}"),
            priority: 0,
            weight: 0,
            port: sip_port,
            target,
        };
        records.push(srv("_sipinternaltls._tcp", config.pool_fqdn.clone()));
        records.push(srv("_sip._tls", format!("sip.{d}")));
    }
    records.retain(|r| !config.dns.omit.iter().any(|o| o.eq_ignore_ascii_case(record_name(r))));
    for spec in &config.dns.records {
        records.push(match spec {
            RecordSpec::A { name, ip } => LabRecord::A { name: name.clone(), ip: *ip },
            RecordSpec::Cname { name, target } => LabRecord::Cname { name: name.clone(), target: target.clone() },
            RecordSpec::Srv { name, target, port, priority, weight } => LabRecord::Srv {
                name: name.clone(),
                priority: *priority,
                weight: *weight,
                port: if *port == 0 { sip_port } else { *port },
                target: target.clone(),
            },
        });
    }
    LabZone { origin: d.clone(), records, ttl: config.dns.ttl }
}

/// The `dead-first-srv` fault: `_sipinternaltls._tcp` gets a first Front End, `fe-dead.<domain>` at
/// `dead_port` (where nothing listens), ahead of the working one (priority 0 before 10).
pub fn with_dead_first_srv(mut zone: LabZone, dead_port: u16) -> LabZone {
    let service = format!("_sipinternaltls._tcp.{}", zone.origin);
    for record in &mut zone.records {
        if let LabRecord::Srv { name, priority, .. } = record
            && name.eq_ignore_ascii_case(&service)
        {
            *priority = 10;
        }
    }
    let dead = format!("fe-dead.{}", zone.origin);
    zone.records.push(LabRecord::A { name: dead.clone(), ip: Ipv4Addr::LOCALHOST });
    zone.records.push(LabRecord::Srv { name: service, priority: 0, weight: 0, port: dead_port, target: dead });
    zone
}

/// The second zone of the redirection faults: `evil.example.net`, the foreign host, on 127.0.0.1.
pub fn foreign_zone() -> LabZone {
    let name = crate::foreign::FOREIGN_HOST.to_string();
    LabZone {
        origin: crate::foreign::FOREIGN_ZONE.to_string(),
        records: vec![LabRecord::A { name, ip: Ipv4Addr::LOCALHOST }],
        ttl: 60,
    }
}

fn record_name(r: &LabRecord) -> &str {
    match r {
        LabRecord::A { name, .. }
        | LabRecord::Aaaa { name, .. }
        | LabRecord::Cname { name, .. }
        | LabRecord::Srv { name, .. } => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(z: &LabZone) -> Vec<String> {
        z.records.iter().map(|r| record_name(r).to_string()).collect()
    }

    #[test]
    fn faults_remove_what_they_say() {
        let full = zone_for(&LabConfig::default(), 5061);
        assert!(names(&full).contains(&"lyncdiscoverinternal.contoso.lab".to_string()));
        assert!(names(&full).contains(&"_sip._tls.contoso.lab".to_string()));
        let no_ld = zone_for(&LabConfig::default().with_fault(Fault::NoLyncdiscover), 5061);
        assert!(!names(&no_ld).iter().any(|n| n.starts_with("lyncdiscover")));
        assert!(names(&no_ld).contains(&"_sipinternaltls._tcp.contoso.lab".to_string()));
        let none = zone_for(&LabConfig::default().with_fault(Fault::NoLyncdiscoverNoSrv), 5061);
        assert!(!names(&none).iter().any(|n| n.starts_with('_') || n.starts_with("lyncdiscover")));
        assert!(names(&none).contains(&"sip.contoso.lab".to_string()));
    }

    #[test]
    fn omit_and_extra_records() {
        let mut c = LabConfig::default();
        c.dns.omit = vec!["LYNCDISCOVER.contoso.lab".into()];
        c.dns.records = vec![RecordSpec::Srv {
            name: "_sip._tls.contoso.lab".into(),
            target: "edge.contoso.lab".into(),
            port: 0,
            priority: 5,
            weight: 1,
        }];
        let z = zone_for(&c, 4444);
        assert!(!names(&z).contains(&"lyncdiscover.contoso.lab".to_string()));
        assert!(
            z.records
                .iter()
                .any(|r| matches!(r, LabRecord::Srv { target, port: 4444, .. } if target == "edge.contoso.lab"))
        );
    }
}
